"""The node proxy: userspace TCP forwarding from Service node ports to ready endpoints."""
