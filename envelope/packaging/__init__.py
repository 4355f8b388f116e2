"""Distributions: validation, publishing, READMEs, releases and what people browse."""
