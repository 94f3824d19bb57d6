"""The BuyHive Django project.

The Celery app is imported here (Celery's documented Django layout) so that ``@shared_task``
functions bind to it in every process: web, worker and scheduler.
"""

from buyhive.celery import app as celery_app

__all__ = ["celery_app"]
