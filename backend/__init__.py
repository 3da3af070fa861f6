"""Backend of the logistics assistant: customer store, CRM analytics and the HTTP gateway."""
