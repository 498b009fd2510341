"""The dashboard benchmark (issue 7): GraphQL against hand-written routes on one server.

`python -m bench --help`; see README.md, "Benchmark".
"""
