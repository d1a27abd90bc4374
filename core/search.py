"""Word search text: accent- and case-folding, the words of a query, and the SQLite function.

PostgreSQL searches with its own full-text search and `unaccent` (campaigns.selectors); SQLite,
the embedded default, has neither, so each of its connections gets `gs_search_words`, a
deterministic Python function that folds a text the same way, and the search matches words
against its result with LIKE.
"""

import re
import unicodedata

# A query is cut to this many characters, then to this many distinct words, before any SQL is
# built: a pasted essay costs no more than a short search.
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8

SQLITE_FUNCTION = "gs_search_words"

# Letters NFKD does not decompose, folded as PostgreSQL's unaccent rules fold them.
_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
# Runs of letters and digits (any script); everything else, `_` included, separates words.
_WORD = re.compile(r"[^\W_]+")


def fold(text):
    """Lower-case (casefold: "ß" → "ss") and without accents: "Café Élan" → "cafe elan"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.translate(_LETTERS)


def query_words(query):
    """The folded words a search looks for, in order, without repeats, within the caps."""
    words = []
    for word in _WORD.findall(fold(query[:MAX_QUERY_CHARS])):
        if word not in words:
            words.append(word)
    return words[:MAX_QUERY_WORDS]


def searchable_text(value):
    """A text as " word word … " (folded, one space around each word), for LIKE '% word%'.

    The leading space lets a pattern anchor at the start of a word, which is what PostgreSQL's
    prefix match (`word:*`) does.
    """
    if value is None:
        return " "
    return " " + " ".join(_WORD.findall(fold(str(value)))) + " "


def register_sqlite_functions(sender, connection, **kwargs):
    """connection_created receiver: give every SQLite connection the search function."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_FUNCTION, 1, searchable_text, deterministic=True
        )
