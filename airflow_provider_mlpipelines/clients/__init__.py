"""The REST clients of the two service APIs, peers behind one protocol (:mod:`.protocol`).

``v1`` speaks the SDK v1 pipelines service (published pipelines, pipeline endpoints, runs);
``v2`` speaks Azure Resource Manager and run history (pipeline components, batch endpoints and
deployments, jobs); ``core`` is what both use (settings, tokens, transports, retries, errors).
The hooks pick one client from the connection's ``api`` extra and delegate to it.
"""
