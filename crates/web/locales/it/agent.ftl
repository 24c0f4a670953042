# agent pages
