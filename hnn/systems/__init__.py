"""hnn.systems"""
