module countersign.dev/test/loadgen

go 1.26
