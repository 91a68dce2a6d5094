"""Cluster DNS: the records of the cluster zone (``records.py``), the UDP/TCP server (``server.py``),
forwarding to the host's resolvers (``upstream.py``) and the kube-dns Service's endpoints (``publish.py``)."""
