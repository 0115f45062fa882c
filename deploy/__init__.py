"""The reference deployment files (nginx.conf.template), installed as ``artwork.deploy`` so that
`artwork proxy` finds them in an installed package as well as in a checkout."""
