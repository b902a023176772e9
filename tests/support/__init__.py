"""What tests share and no test is about: servers, fakes, clusters, receivers, keys and helpers."""
