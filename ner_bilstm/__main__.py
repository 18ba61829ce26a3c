from ner_bilstm_cli.main import main

main()
