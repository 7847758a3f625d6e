"""Pipelines: the only writer of the warehouse.

Detect each published file's source by its header, parse it to a tidy table, validate it with
its Great Expectations suite, load it into a working copy, rebuild staging and marts, validate
the marts and publish atomically. Never imports streamlit.
"""
