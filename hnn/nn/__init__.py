"""hnn.nn"""
