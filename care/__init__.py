"""The council's care marketplace records: providers, service users, enquiries, packages and payments."""
