"""hnn.optim"""
