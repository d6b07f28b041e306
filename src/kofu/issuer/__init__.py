"""The municipality's certificate issuance server (証明発行サーバ); see docs/architecture.md."""
