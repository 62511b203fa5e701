"""Differential fuzzing of funcgrad.tape against PyTorch (see programs.py)."""
