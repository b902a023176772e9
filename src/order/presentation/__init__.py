"""gRPC servicer and the mapping between protobuf and application messages."""
