"""newsmirror: full-text, self-contained mirrors of Chinese-language news.

The package is a pipeline (see DESIGN.md): config -> sources -> fetch -> parse -> Article ->
transforms -> render -> archive + catalog -> publish.  Only ``fetch``, ``store``, ``archive``
and ``publish`` touch the outside world.
"""

__version__ = "0.1.0"
