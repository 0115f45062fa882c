"""The browser demo: plain HTML, CSS and JavaScript modules, installed as package data."""
