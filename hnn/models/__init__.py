"""hnn.models"""
