"""Shipped data (recordings, pretrained models): installed as the data package ``hnn.datasets`` (see ``hnn.paths``)."""
