"""CDS Hooks 2.0 for the appointment-book hook: the request and feedback shapes of the
specification (``schemas``), the call turned into a booking record (``serving.interop``), the
card and its texts (``cards``), what the audit row keeps of the call (``recording``), staff
feedback checked against the card (``feedback``) and the model card behind ``source.url``
(``model_card``)."""
