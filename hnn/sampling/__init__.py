"""hnn.sampling"""
