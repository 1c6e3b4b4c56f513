"""hnn.envs"""
