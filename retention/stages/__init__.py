"""One module or folder per arrow of the data flow, beside its sql/<stage>/ folder."""
