"""Training and evaluation of the page classifier's head (``train_page_classifier``,
``eval_page_classifier``).

Data (all real, from ``<repo>/../shared/data``)
===============================================
* **Positives, labelled by a person:** the product pages (``product-pages/ground-truth.json``).
* **Negatives, labelled by a person:** the article pages (``article-pages/pages.json``).
* **Hard negatives, labelled by rules (training only):** links found in the product pages
  themselves that point to non-product pages of the same shop. A link is labelled when
  :func:`~mlverify.training.rules.link_rule` recognises it by one of these generic rules (no
  shop or page is named):

  1. *keyword*: a short path segment (ids and file extension dropped) is a word of
     :data:`~mlverify.training.rules.NON_PRODUCT_KEYWORDS` joined ("about-us"), starts with
     one (at most 3 words: "faq-delivery-costs") or contains one (at most 2 words:
     "tv-guide"); the list names
     name cart, checkout, account/login, wishlist, search, help/FAQ/contact/about,
     terms/privacy/cookies, shipping/returns/payment, store locator, blog/news and
     category/brand/sale listing pages in English, German, French, Spanish, Italian,
     Portuguese, Dutch, Polish, Slovak/Czech, Romanian, Nordic languages and Turkish; or a
     routing query parameter (``page=``, ``route=``, ``action=``...) names one of them; a
     path with a product-detail segment (``/p/``, ``/products/``, ``/item/``...) is never
     labelled by this rule;
  2. *search*: the query has a search parameter (``q``, ``query``, ``search``, ``keyword``...);
  3. *breadcrumb*: the link sits in the page's breadcrumb trail (a ``BreadcrumbList`` in
     JSON-LD or microdata, or an element whose class/id/aria-label says "breadcrumb"),
     except the crumb that is the page itself: these are category pages (JSON-LD crumbs
     count even when the page has no ``<a>`` for them);
  4. *home*: the site root or a locale root (``/``, ``/en/``, ``/gb/en/``).

  Links to other hosts, to files (images, PDF...) and to the page itself are skipped. At most
  ``per_site_cap`` links per site are kept, picked round-robin over rule kinds in a seeded
  hash order, so no shop dominates.

Metrics are computed only on the person-labelled pages, by grouped k-fold over *sites*: the
registrable domain without its public suffix, so ``shop.co.uk`` and ``shop.fr`` are one site.
Every labelled page is scored by a head that never saw its site, and the rule-labelled links
of a held-out site are left out of that fold's training too.

The head is L2-regularised softmax regression fitted by Newton's method (numpy, exact and
deterministic). Its settings are fixed (:data:`~mlverify.training.selection.FIXED_GRID`);
``--nested-grid`` instead chooses the page layer's L2, text scale (and, with ``--criterion
f1``, the threshold) by an inner grouped cross-validation on each outer fold's training sites
only (:mod:`~mlverify.training.selection`); on this data it measured lower (MODEL_CARD.md).

Where each step lives: :mod:`~mlverify.training.defaults` (seed, folds, data folder),
:mod:`~mlverify.training.sites` (what counts as one site), :mod:`~mlverify.training.rules`
(the rules for hard negatives), :mod:`~mlverify.training.dataset` (reading the data and
embedding it), :mod:`~mlverify.training.fitting` (logistic regression and the shipped head),
:mod:`~mlverify.training.evaluation` (folds, cross-validation, metrics),
:mod:`~mlverify.training.selection` (the optional nested choice of settings),
:mod:`~mlverify.training.outputs` (head file, model card, report) and
:mod:`~mlverify.training.run` (one call for the management commands).
"""
