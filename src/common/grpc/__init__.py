"""gRPC plumbing shared by both services: interceptors, status mapping, server bootstrap."""
