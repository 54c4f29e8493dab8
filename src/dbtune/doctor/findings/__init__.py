"""The doctor's finding types, one module each; the module name is the finding's id.

Each module's docstring states the problem, how it is detected and the fix (rendered into
``docs/doctor/<id>.md``) and defines ``inspect(catalog, options) -> list[Finding]``: a pure
function of :class:`dbtune.catalog.Catalog`.
"""
