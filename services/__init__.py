"""The four lienthong services, the command line and the development stack."""
