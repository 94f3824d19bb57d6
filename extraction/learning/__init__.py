"""Learning each shop from its users' corrections (issue 17, last part).

At extraction, a compact record of the candidates the page offered for each learnable field
(title, price, currency, image, availability) is kept with the saved item: where each was
(a JSON-LD key path, a DOM path, a meta property) and its value, a few hundred bytes, never
the page (:mod:`.candidates`, :mod:`.locations`). When the item's owner corrects one of
those fields within ``LEARNING_RECORD_DAYS``, the candidates that held the corrected value
tell where the truth is on that shop's pages: the location is recorded for the shop's
domain with no user data (:mod:`.services`). Later extractions on the domain try the
learned locations first and use one only when what it holds validates (:mod:`.apply`).

Abuse rule: a location helps the user who taught it at once, and everybody else only once
a second, distinct user's correction agrees (votes are keyed hashes, see
:func:`.services.voter_hash`).

The extractor itself is untouched: this package parses the page on its own (only when a
domain has learned locations, or when a page is saved into a cart), so the rules in
``structured.py`` / ``heuristics/`` can change freely beside it.
"""
