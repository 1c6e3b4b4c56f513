"""hnn.data"""
