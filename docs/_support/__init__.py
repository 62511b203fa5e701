"""What the docs' build (conf.py), its pages' hidden cells and its tests share.

Nothing here is part of funcgrad: these helpers run the examples for the pages, draw their
figures and list the public names the API reference documents.
"""
