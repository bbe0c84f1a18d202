"""skynet's packaging: ``pip install .`` (core) or ``pip install .[extra]``.

Core dependencies are ranges; ``requirements.txt`` pins the exact versions builds use.
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

version = re.search(r'__version__ = "([^"]+)"', Path("skynet/__init__.py").read_text()).group(1)

CORE = [
    "click>=8.1",
    "pyyaml>=6",
    "numpy>=1.26",
    "pandas>=2.1",
    "pyarrow>=14",
    "scikit-learn>=1.4",
    "scipy>=1.11",  # the ordinal model's fit (optimize.minimize, special.ndtr)
    "numba>=0.59",  # the user model's tree walk and the simulator's psychrometrics (njit)
    "threadpoolctl>=3.1",  # one BLAS / OpenMP thread where many decisions run side by side
    "joblib>=1.3",
    "pythermalcomfort>=2.10",
    "sqlalchemy>=2.0",
    # SQLite frames straight into Arrow (read_frame); without it the DBAPI cursor reads them
    "adbc-driver-sqlite>=1.0",
    "adbc-driver-manager>=1.0",  # its Error is caught where ADBC staging falls back
    "alembic>=1.13",
    "matplotlib>=3.8",
    "tqdm>=4.66",
]

EXTRAS = {
    "mysql": ["pymysql>=1.1"],
    "postgresql": ["psycopg[binary]>=3.1"],
    "redis": ["redis>=5"],
    "mongodb": ["pymongo>=4.6"],
    "cassandra": ["cassandra-driver>=3.29"],  # time series (storage.timeseries_url)
    # model artifacts in S3 (models.store: s3://bucket/prefix); botocore's config and errors are used directly
    "s3": ["boto3>=1.34", "botocore>=1.34"],
    # batch predictions from/to S3, SQS and DynamoDB (skynet predict batch)
    "aws": ["boto3>=1.34", "botocore>=1.34"],
    # batch predictions on a Dask cluster (skynet predict batch --engine dask)
    "dask": ["dask>=2024.8", "distributed>=2024.8"],
    # the REST service (skynet serve); prometheus-client also serves the worker's --metrics-port
    # (uvloop and httptools: uvicorn's event loop and HTTP parser, taken when installed)
    "serve": [
        "fastapi>=0.115",
        "starlette>=0.40",
        "uvicorn>=0.30",
        "uvloop>=0.19; sys_platform != 'win32'",
        "httptools>=0.6",
        "pydantic>=2.7",
        "prometheus-client>=0.20",
    ],
    "metrics": ["prometheus-client>=0.20"],
    # distributed training and hyper-parameter search (skynet train worker, TYPE search)
    "celery": ["celery>=5.4,<6", "kombu>=5.4,<6"],
    "tpe": ["optuna>=4.0"],  # kind: tpe searches (Optuna's TPE sampler)
    "deploy": ["fabric>=3.2", "pex>=2.20"],
    "airflow": ["apache-airflow>=3.0"],
    # EnergyPlus 25.2 engine + DOE prototype buildings + TMY3 weather (manylinux x86_64 wheel).
    "energyplus": ["pyenergyplus-lbnl==26.1.0"],
    "test": ["pytest>=8", "hypothesis>=6.100", "httpx>=0.27", "schemathesis>=4.0"],
}
EXTRAS["servers"] = EXTRAS["mysql"] + EXTRAS["postgresql"] + EXTRAS["redis"]

setup(
    name="skynet",
    version=version,
    description="Machine-learning components for smart air-conditioner control",
    long_description=Path("README.md").read_text() if Path("README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["skynet", "skynet.*"]),
    package_data={
        "skynet": [
            "py.typed",
            "storage/sql/migrations/*.py",
            "storage/sql/migrations/*.mako",
            "storage/sql/migrations/versions/*.py",
            "**/templates/*",
        ]
    },
    include_package_data=True,
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["skynet=skynet.cli:main"]},
    classifiers=["Programming Language :: Python :: 3.11"],
)
