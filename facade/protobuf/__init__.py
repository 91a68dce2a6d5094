"""Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

client-go's typed clients send built-in kinds as protobuf and do not fall back to JSON, so the server
must read them. ``decode.decode_kubernetes_protobuf`` turns such a body into the JSON-shaped dict
kube-apiserver would have seen; ``fields.json`` (written by ``extract``) holds the wire schema.
"""
