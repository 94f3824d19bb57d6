"""Development and CI database tooling: SecantusDB, started and patched by the project.

Nothing in the production code path imports this package (``buyhive/tests/test_devdb_isolation.py``
checks it), and the production image leaves it out (``.dockerignore``), together with
SecantusDB itself (GPL-2.0, beta; ``requirements/embedded-db.txt``).

When ``MONGODB_URI`` is unset (a developer machine, CI), the project runs SecantusDB, a
MongoDB-wire-compatible server from PyPI, on 127.0.0.1 and Django talks to it over the wire,
exactly as it talks to Atlas in production.

One module per concern:

* :mod:`~buyhive.devdb.common`: addresses, paths, the serve command line, waiting for a ping;
* :mod:`~buyhive.devdb.supervisor`: the developer's long-lived server
  (``ensure_running`` / ``stop`` / ``status``; ``manage.py embedded_db``, ``make run``);
* :mod:`~buyhive.devdb.testserver`: throwaway in-memory servers for test sessions
  (``start_ephemeral``; the root ``conftest.py``, the benchmarks);
* :mod:`~buyhive.devdb.addfields` and :mod:`~buyhive.devdb.planner`: two patches of
  SecantusDB 0.7.0b3's internals, applied inside the server process only;
* :mod:`~buyhive.devdb.cli`: ``python -m buyhive.devdb serve|start|stop|status|uri``.

SecantusDB and the query shapes of ``carts/selectors.py``
---------------------------------------------------------
The selectors read with one indexed field per filter and check ownership on the documents
that come back, which any MongoDB plans on an index. django-mongodb-backend sends a filter on
two fields as ``{"$and": [...]}``; mongod plans that on an index too, but SecantusDB 0.7
plans a top-level ``$and`` as a collection scan (measured: 0.5 s on 20,000 items for
``{"$and": [{"owner_id": u}, {"_id": {"$in": ids}}]}``, 7 ms for ``{"_id": {"$in": ids}}``).
:mod:`~buyhive.devdb.planner` flattens such filters inside the development server, so a
development or CI machine sees the index use production sees; ``bench/carts.py`` measures it.
"""
