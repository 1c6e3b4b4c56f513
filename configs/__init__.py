"""The shipped training configs: installed as the data package ``hnn.configs`` (see ``hnn.paths``)."""
