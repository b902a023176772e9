"""Authentication and authorization, independent of the gRPC server model (sync or aio).

``principal`` (who is calling), ``tokens`` (bearer JWT verification), ``key_sources`` (where the
verification keys come from), ``mtls`` (client-certificate identities), ``policy`` (who may call what),
``token_file`` (the client side's service token) and ``dev_keys`` (local keys and tokens for development).
"""
