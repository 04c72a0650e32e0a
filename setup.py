"""Install torus (karbon, torus and their tools) and the kairos library."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as handle:
        return handle.read()


def requirements(name):
    return [line.split("#", 1)[0].strip() for line in read(name).splitlines()
            if line.split("#", 1)[0].strip() and not line.startswith("-r")]


VERSION = re.search(r'__version__ = "([^"]+)"', read("kairos/__init__.py")).group(1)

setup(
    name="torus",
    version=VERSION,
    description="Carbon-compatible metrics ingest (karbon) and query server (torus) over kairos",
    long_description=read("README.rst"),
    long_description_content_type="text/x-rst",
    license="BSD",
    python_requires=">=3.11",
    packages=find_packages(include=["kairos", "kairos.*", "torus", "torus.*"]),
    package_data={"kairos": ["py.typed"],
                  "torus": ["py.typed", "ui/index.html", "ui/static/*", "ui/static/vendor/*"]},
    install_requires=requirements("requirements.pip"),
    extras_require={"mongo": ["pymongo>=4.6,<5"], "cassandra": ["cassandra-driver>=3.29,<4"]},
    entry_points={
        "console_scripts": [
            "karbon = torus.karbon:main",
            "torus = torus.query_server:main",
            "schema_debug = torus.schema_debug:main",
            "schema_test = torus.schema_test:main",
            "migrate = torus.migrate:main",
            "karbon_replay = torus.replay:main",
            "torus_delete = torus.delete_tool:main",
            "torus_token = torus.token_tool:main",
        ],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: BSD License",
        "Topic :: System :: Monitoring",
    ],
)
