// msgpackr loads this optionally inside try/catch; failing here selects its pure JS decoder.
throw new Error('msgpackr-extract is stubbed out in weft (see vendor/msgpackr-extract-stub/package.json)');
