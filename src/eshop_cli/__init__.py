"""The ``eshop`` command line: run the services (``up``, ``serve``) and talk to them as a person would."""
