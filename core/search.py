"""Word search text: accent- and case-folding, the words of a query, and scoring them on SQLite.

PostgreSQL searches with its own full-text search and `unaccent` (campaigns.selectors); SQLite,
the embedded default, has neither, so each of its connections gets `gs_search_score`, a
deterministic Python function that folds a campaign's texts the same way and scores them
against the query's words: one call per row for the whole match and rank, so the cost of a
search grows with the text searched, hardly with the number of words.
"""

import functools
import re
import unicodedata

# A query is cut to this many characters, then to this many distinct words, before any SQL is
# built: a pasted essay costs no more than a short search.
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8

SQLITE_SCORE_FUNCTION = "gs_search_score"

# Letters NFKD does not decompose, folded as PostgreSQL's unaccent rules fold them.
_LETTERS = {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
# Runs of letters and digits (any script); everything else, `_` included, separates words.
_WORD = re.compile(r"[^\W_]+")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def fold(text):
    """Lower-case (casefold: "ß" → "ss") and without accents: "Café Élan" → "cafe elan"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return decomposed  # most text: nothing left to strip or map
    # str.replace per distinct character present: a translate table or a loop over every
    # character costs ten times as much on a story of a few kilobytes.
    for char in set(_NOT_ASCII.findall(decomposed)):
        if unicodedata.combining(char):
            decomposed = decomposed.replace(char, "")
        elif char in _LETTERS:
            decomposed = decomposed.replace(char, _LETTERS[char])
    return decomposed


def query_words(query):
    """The folded words a search looks for, in order, without repeats, within the caps."""
    words = []
    for word in _WORD.findall(fold(query[:MAX_QUERY_CHARS])):
        if word not in words:
            words.append(word)
    return words[:MAX_QUERY_WORDS]


# How many times a word is looked at inside other words before one scan finds the rest.
_OCCURRENCES_CHECKED = 32


@functools.lru_cache(maxsize=64)
def _after_separator_patterns(words):
    return tuple(re.compile(r"[\W_]" + re.escape(word)) for word in words)


def _has_word_starting(folded, word, pattern):
    """Whether a word of `folded` begins with `word` (letters and digits only, query_words),
    as PostgreSQL's prefix match `word:*` finds it: "kil" in "a kiln", not "iln".

    str.find runs at C speed, a regular expression that must test the character before each
    position at a tenth of it: so the first occurrences are checked one by one, and only a
    word found that often inside other words gets the pattern, from where the loop stopped.
    """
    at = folded.find(word)
    for _ in range(_OCCURRENCES_CHECKED):
        if at == -1:
            return False
        if at == 0 or not folded[at - 1].isalnum():  # isalnum() is the `[^\W_]` of _WORD
            return True
        at = folded.find(word, at + 1)
    return at != -1 and pattern.search(folded, at - 1) is not None


def score(words, weighted_texts):
    """Σ weight × how many of `words` a text has, over (weight, text) pairs; 0 unless every
    word is in at least one of the texts. Texts are folded here; None is an empty text."""
    words = tuple(words)
    patterns = _after_separator_patterns(words)
    found_anywhere = [False] * len(words)
    total = 0
    for weight, text in weighted_texts:
        if not text:
            continue
        folded = fold(text)
        for index, word in enumerate(words):
            if _has_word_starting(folded, word, patterns[index]):
                total += weight
                found_anywhere[index] = True
    return total if words and all(found_anywhere) else 0


def sqlite_score(terms, *weights_and_texts):
    """gs_search_score(terms, weight, text, weight, text, …): `terms` is the words joined by
    spaces (core.search.query_words; none holds a space)."""
    pairs = zip(weights_and_texts[::2], weights_and_texts[1::2], strict=True)
    return score(terms.split(" "), pairs)


# name → (number of arguments, -1 for any; function), for every SQLite connection.
SQLITE_FUNCTIONS = {SQLITE_SCORE_FUNCTION: (-1, sqlite_score)}


def register_sqlite_functions(sender, connection, **kwargs):
    """connection_created receiver: give every SQLite connection the search function."""
    if connection.vendor == "sqlite":
        for name, (narg, function) in SQLITE_FUNCTIONS.items():
            connection.connection.create_function(name, narg, function, deterministic=True)
