"""Apache Airflow provider for Azure Machine Learning pipelines.

Importing this package is cheap on purpose: it is imported by every DAG file that uses the
provider, so it imports nothing beyond the standard library.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
