"""Searching: the query language and its `Query` object, the searcher that runs a query
against the library, and how good a match is. Search never writes to the library."""
