"""Authentication and authorization, apart from gRPC (``common.grpc.auth_interceptor`` applies them per call).

``principal`` (who is calling), ``tokens`` (bearer JWT verification), ``key_sources`` (where the
verification keys come from), ``mtls`` (client-certificate identities), ``policy`` (who may call what),
``token_file`` (the client side's service token) and ``dev_keys`` (local keys and tokens for development).
"""
