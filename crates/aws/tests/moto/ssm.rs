//! `SsmSecrets` against moto's SSM.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;
use screener_aws::SsmSecrets;
use screener_core::ports::{Secrets, SecretsError};

async fn put_secure(client: &Client, name: &str, value: &str) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("put the test parameter");
}

#[tokio::test]
async fn a_secure_string_is_decrypted_and_read_once_per_container() {
    let Some(config) = crate::config().await else {
        return;
    };
    let client = Client::new(&config);
    let name = format!("/screener/{}/alpaca/api_key", crate::unique("test"));
    put_secure(&client, &name, "hunter2").await;
    // Stored encrypted: read without decryption it is not the value.
    let raw = client.get_parameter().name(&name).send().await.unwrap();
    assert_ne!(raw.parameter().and_then(|p| p.value()), Some("hunter2"));

    let secrets = SsmSecrets::from_config(&config);
    let secret = secrets.get(&name).await.unwrap();
    assert_eq!(secret.expose(), "hunter2");
    assert!(!format!("{secret:?} {secret}").contains("hunter2"));

    // Gone from SSM, still known to this container.
    client.delete_parameter().name(&name).send().await.unwrap();
    assert_eq!(secrets.get(&name).await.unwrap().expose(), "hunter2");
    // A new container (a cold start) does read SSM again, and finds nothing.
    let cold = SsmSecrets::from_config(&config);
    assert!(matches!(
        cold.get(&name).await,
        Err(SecretsError::Missing { .. })
    ));
}

#[tokio::test]
async fn a_missing_parameter_is_missing_and_names_the_command_that_creates_it() {
    let Some(config) = crate::config().await else {
        return;
    };
    let name = format!("/screener/{}/telegram/token", crate::unique("test"));
    let secrets = SsmSecrets::from_config(&config);
    let err = secrets.get(&name).await.unwrap_err();
    match &err {
        SecretsError::Missing {
            name: missing,
            hint,
        } => {
            assert_eq!(missing, &name);
            assert!(
                hint.contains(&format!(
                    "aws ssm put-parameter --name {name} --type SecureString"
                )),
                "{hint}"
            );
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert!(err.to_string().contains(&name), "{err}");

    // Missing is not remembered: once created, the next read finds it.
    put_secure(&Client::new(&config), &name, "t0ken").await;
    assert_eq!(secrets.get(&name).await.unwrap().expose(), "t0ken");
}
