"""The medicines formulary: entries and their RAG status vocabulary, look-up by medicine and
indication, the text of an answer, CSV import and export.

May import: `engine.language`, `engine.formulary`.
"""
