"""Analytics: rollup tables kept by Celery beat, and the admin read endpoints on top of them."""
