"""The medicines formulary: entries and their RAG status vocabulary, medicines and indications as
concepts (terminology), the query reader and the one resolver behind every look-up, the text of
an answer, CSV import and export.

May import: `engine.language`, `engine.formulary`.
"""
